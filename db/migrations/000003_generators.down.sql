DROP TABLE IF EXISTS generators;
DROP FUNCTION IF EXISTS handle_generator_hard_delete();
