-- Latest change per employee id; an employee whose latest change is a delete is gone.
SELECT id, first_name, last_name, email, department, salary, hire_date, created_at, updated_at, _commit_ts AS changed_at
FROM (
  SELECT e.*,
         row_number() OVER (PARTITION BY id ORDER BY _commit_ts DESC, _source_key DESC, _record_seq DESC) AS change_rank
  FROM "{{ analytics_database_name }}"."{{ analytics_employees_table }}" e
)
WHERE change_rank = 1 AND _op <> 'delete'
ORDER BY id
