-- The seed's employees table (smartstream-terraform README), plus what CDC needs:
-- a primary key (DMS CDC requires one), a unique e-mail (so seeding is idempotent),
-- updated_at kept by a trigger, and REPLICA IDENTITY FULL so updates and
-- deletes carry the whole old row into the change stream.
CREATE TABLE IF NOT EXISTS public.employees (
    id SERIAL PRIMARY KEY,
    first_name VARCHAR(50),
    last_name VARCHAR(50),
    email VARCHAR(100) NOT NULL UNIQUE,
    department VARCHAR(50),
    salary NUMERIC(10,2),
    hire_date DATE,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);

CREATE OR REPLACE FUNCTION public.employees_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS employees_touch_updated_at ON public.employees;
CREATE TRIGGER employees_touch_updated_at BEFORE UPDATE ON public.employees
    FOR EACH ROW EXECUTE FUNCTION public.employees_touch_updated_at();

ALTER TABLE public.employees REPLICA IDENTITY FULL;
