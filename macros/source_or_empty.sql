{#-
  The relation to read a stage table from, or an empty relation with the same column names when the table has
  no data files yet (a source that has not delivered anything must not break the build: downstream columns stay,
  with nulls or zeros as documented). Only DuckDB can be missing files: on Athena the Glue table always exists.

  columns: the column names the staging model selects (typed there by its casts).
-#}
{%- macro source_or_empty(source_name, table_name, columns) -%}
  {{ return(adapter.dispatch('source_or_empty', 'c360')(source_name, table_name, columns)) }}
{%- endmacro -%}

{%- macro default__source_or_empty(source_name, table_name, columns) -%}
  {{ source(source_name, table_name) }}
{%- endmacro -%}

{%- macro duckdb__source_or_empty(source_name, table_name, columns) -%}
  {%- set relation = source(source_name, table_name) -%}
  {%- if not execute -%}
    {{ relation }}
  {%- else -%}
    {%- set path = stage_files_glob(table_name) -%}
    {%- set found = run_query("select count(*) from glob('" ~ path ~ "')").columns[0].values()[0] -%}
    {%- if found > 0 -%}
      {{ relation }}
    {%- else -%}
      {{- empty_relation(columns) -}}
    {%- endif -%}
  {%- endif -%}
{%- endmacro -%}

{#- A relation with the given column names and no rows. -#}
{%- macro empty_relation(columns) -%}
  (select {% for column in columns %}cast(null as varchar) as {{ column }}{{ ", " if not loop.last }}{% endfor %} where 1 = 0)
{%- endmacro -%}
