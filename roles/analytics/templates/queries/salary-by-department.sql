-- Salaries of the current employees (latest change per id, ordered as in current-employees).
WITH current_employees AS (
  SELECT department, salary, _op,
         row_number() OVER (
           PARTITION BY id
           ORDER BY CASE WHEN _op = 'load' THEN 0 ELSE 1 END DESC,
                    _lsn DESC NULLS LAST,
                    _transaction_record_id DESC NULLS LAST,
                    _commit_ts DESC,
                    _change_id DESC,
                    _source_key DESC,
                    _record_seq DESC
         ) AS change_rank
  FROM "{{ analytics_database_name }}"."{{ analytics_employees_table }}"
)
SELECT department,
       count(*) AS employees,
       round(avg(salary), 2) AS average_salary,
       min(salary) AS lowest_salary,
       max(salary) AS highest_salary,
       approx_percentile(salary, 0.5) AS median_salary
FROM current_employees
WHERE change_rank = 1 AND _op <> 'delete'
GROUP BY department
ORDER BY department
