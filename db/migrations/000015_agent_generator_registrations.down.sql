DROP TABLE IF EXISTS agent_generator_registrations;
