{#-
  The date every metric is computed as of: var('as_of_date') when given (YYYY-MM-DD), otherwise the latest date
  found in `fallback_sql` (a scalar subquery over the data). Never the wall clock, so a build is reproducible.
-#}
{%- macro as_of_date(fallback_sql) -%}
  {%- set configured = var('as_of_date', '') -%}
  {%- if configured -%}
    cast('{{ configured }}' as date)
  {%- else -%}
    cast(({{ fallback_sql }}) as date)
  {%- endif -%}
{%- endmacro -%}
