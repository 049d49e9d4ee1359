DROP TABLE IF EXISTS admin_role;
DROP TABLE IF EXISTS app_initialization;
DROP FUNCTION IF EXISTS prevent_admin_role_delete();
