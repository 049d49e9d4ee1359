DROP TABLE IF EXISTS agent_targets;
DROP TABLE IF EXISTS stack_annotations;
DROP TABLE IF EXISTS stack_labels;
DROP TABLE IF EXISTS stacks;
