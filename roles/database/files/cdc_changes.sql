-- Step 6 of the seed README ("Test CDC"): an insert, an update and a delete.
INSERT INTO public.employees (first_name, last_name, email, department, salary, hire_date)
VALUES ('Alice', 'Williams', 'alice.williams@example.com', 'HR', 70000.00, '2023-05-01')
ON CONFLICT (email) DO NOTHING;
UPDATE public.employees SET salary = 98000.00 WHERE email = 'john.doe@example.com';
DELETE FROM public.employees WHERE email = 'bob.johnson@example.com';
