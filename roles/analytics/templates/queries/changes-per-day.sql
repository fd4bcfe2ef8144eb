-- Changes per commit day and operation; a change delivered twice (at-least-once delivery) counts once.
SELECT dt AS commit_day, _op AS operation, count(DISTINCT _change_id) AS changes
FROM "{{ analytics_database_name }}"."{{ analytics_employees_table }}"
GROUP BY dt, _op
ORDER BY commit_day DESC, operation
