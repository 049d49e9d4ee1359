DROP FUNCTION IF EXISTS soft_delete();
DROP FUNCTION IF EXISTS update_timestamp();
