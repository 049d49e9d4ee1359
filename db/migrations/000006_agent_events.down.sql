DROP TRIGGER IF EXISTS trigger_hard_delete_deployment_objects ON stacks;
DROP TRIGGER IF EXISTS trigger_stack_hard_delete ON stacks;
DROP TRIGGER IF EXISTS trigger_agent_hard_delete ON agents;
DROP TRIGGER IF EXISTS cascade_soft_delete_agents ON agents;
DROP TABLE IF EXISTS agent_events;
DROP FUNCTION IF EXISTS hard_delete_deployment_objects_on_stack_delete();
DROP FUNCTION IF EXISTS handle_stack_hard_delete();
DROP FUNCTION IF EXISTS handle_agent_hard_delete();
DROP FUNCTION IF EXISTS cascade_soft_delete_agents();
