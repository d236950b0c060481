{#- Whole years between two dates (an age or a tenure in completed years); portable DuckDB/Trino SQL. -#}
{%- macro completed_years(from_date, to_date) -%}
  (
    extract(year from {{ to_date }}) - extract(year from {{ from_date }})
    - case
        when extract(month from {{ to_date }}) < extract(month from {{ from_date }})
          or (
            extract(month from {{ to_date }}) = extract(month from {{ from_date }})
            and extract(day from {{ to_date }}) < extract(day from {{ from_date }})
          )
          then 1
        else 0
      end
  )
{%- endmacro -%}
