SELECT dt AS commit_day, _op AS operation, count(*) AS changes
FROM "{{ analytics_database_name }}"."{{ analytics_employees_table }}"
GROUP BY dt, _op
ORDER BY commit_day DESC, operation
