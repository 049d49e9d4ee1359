DROP TABLE IF EXISTS agent_annotations;
DROP TABLE IF EXISTS agent_labels;
DROP TABLE IF EXISTS agents;
