{#-
  The as-of date and the bounds of the windows every "3m", "6m" and "12m" metric counts over, as one row of dates:
  a model selects it in its `as_of` CTE, `{{ as_of_windows(ref('int_as_of_date')) }}`, and compares its rows'
  dates with these columns. A row is in the 12 months when `window_12m_start < its date <= as_of_date`.
  Computed once here, as dates: `as_of_date + interval` per row is a timestamp on DuckDB, and cost a quarter of
  int_account_balances over 10M transactions. Unit tests still give `int_as_of_date` its one column.
-#}
{%- macro as_of_windows(as_of_date_relation) -%}
    select
        as_of_date,
        cast({{ dbt.dateadd('month', -3, 'as_of_date') }} as date) as window_3m_start,
        cast({{ dbt.dateadd('month', -6, 'as_of_date') }} as date) as window_6m_start,
        cast({{ dbt.dateadd('month', -12, 'as_of_date') }} as date) as window_12m_start,
        cast({{ dbt.dateadd('day', 1, 'as_of_date') }} as date) as day_after_as_of_date

    from {{ as_of_date_relation }}
{%- endmacro -%}
