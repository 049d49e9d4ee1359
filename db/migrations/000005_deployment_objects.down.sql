DROP TRIGGER IF EXISTS cascade_soft_delete_generators ON generators;
DROP TRIGGER IF EXISTS trigger_handle_stack_soft_delete ON stacks;
DROP TABLE IF EXISTS deployment_objects;
DROP FUNCTION IF EXISTS cascade_soft_delete_generators();
DROP FUNCTION IF EXISTS handle_stack_soft_delete();
DROP FUNCTION IF EXISTS prevent_deployment_object_changes();
