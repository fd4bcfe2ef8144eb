-- Flagged salaries; a change scored twice (redelivered, or its file rescored) is listed once.
SELECT DISTINCT id, department, salary, expected_salary, round(anomaly_score, 2) AS anomaly_score, model_version, _commit_ts AS changed_at
FROM "{{ analytics_database_name }}"."{{ analytics_anomalies_table }}"
WHERE is_anomaly
ORDER BY anomaly_score DESC, id, changed_at DESC, model_version
LIMIT 100
