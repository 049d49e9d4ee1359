DROP TABLE IF EXISTS diagnostic_results;
DROP TABLE IF EXISTS diagnostic_requests;
