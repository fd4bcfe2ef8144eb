SELECT id, department, salary, expected_salary, round(anomaly_score, 2) AS anomaly_score, model_version, _commit_ts AS changed_at
FROM "{{ analytics_database_name }}"."{{ analytics_anomalies_table }}"
WHERE is_anomaly
ORDER BY anomaly_score DESC
LIMIT 100
