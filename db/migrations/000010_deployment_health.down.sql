DROP TABLE IF EXISTS deployment_health;
