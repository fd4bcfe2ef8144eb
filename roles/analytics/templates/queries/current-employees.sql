-- Latest change per employee id; an employee whose latest change is a delete is gone.
-- Order of changes (exact, whatever the commit timestamps, object order or redelivery):
-- a CDC change beats every full-load row; CDC changes by log position (_lsn), then their
-- place in the transaction (_transaction_record_id); load rows by load time. The last keys
-- only pick among identical copies of one change (redelivered), so duplicates change nothing.
SELECT id, first_name, last_name, email, department, salary, hire_date, created_at, updated_at, _commit_ts AS changed_at
FROM (
  SELECT e.*,
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
  FROM "{{ analytics_database_name }}"."{{ analytics_employees_table }}" e
)
WHERE change_rank = 1 AND _op <> 'delete'
ORDER BY id
