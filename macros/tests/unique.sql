{#-
  dbt's `unique` test on DuckDB: for a column documented as an integer (`data_type: bigint` or `integer` in its
  model's properties), duplicates are found by sorting the column and comparing each value with the one before,
  rather than by grouping. DuckDB groups 10M distinct bigints (fct_transactions.trans_id at scale 10) with a hash
  table of 10M entries: 1.8-2.3 s of CPU, against 0.6 s to sort them. On text keys the hash wins (GA's 2M hit
  keys: 0.9 s against 1.4 s), so every other column, every expression and every other adapter keep dbt's own test. Either way the test returns one row per duplicated value
  with its count, as dbt's does.
-#}
{% macro duckdb__test_unique(model, column_name) %}
  {%- if c360_integer_column(model, column_name) %}

with sorted as (

    select
        {{ column_name }} as unique_field,
        lag({{ column_name }}) over (order by {{ column_name }}) as previous_value

    from {{ model }}
    where {{ column_name }} is not null

)

select
    unique_field,
    count(*) + 1 as n_records

from sorted
where unique_field = previous_value
group by unique_field

  {%- else -%}
    {{ default__test_unique(model, column_name) }}
  {%- endif -%}
{% endmacro %}

{#- Whether `column_name` is a column that the properties of the model, seed or snapshot behind `model` (a relation;
    a test with a `where` config gets a subquery instead) document with an integer `data_type`. -#}
{% macro c360_integer_column(model, column_name) %}
  {%- if not execute or model is string -%}
    {{- return(false) -}}
  {%- endif -%}
  {%- set found = namespace(data_type=none) -%}
  {%- for node in graph.nodes.values() -%}
    {%- if node.resource_type in ('model', 'seed', 'snapshot')
          and (node.alias or node.name) | lower == model.identifier | lower
          and node.schema | lower == model.schema | lower -%}
      {%- set column = node.columns.get(column_name) -%}
      {%- if column -%}
        {%- set found.data_type = column.data_type -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{- return((found.data_type or '') | lower in ('bigint', 'integer', 'int', 'smallint')) -}}
{% endmacro %}
