-- The one date every metric is computed as of: var('as_of_date') when given, else the latest business date in
-- the data (transactions, then web sessions, then CRM loads). Never the wall clock.
with

transactions as (

    select max(trans_date) as latest_date from {{ ref('stg_core_banking__transactions') }}

),

sessions as (

    select max(session_date) as latest_date from {{ ref('stg_web__sessions') }}

),

customers as (

    select max(cast(ingested_at as date)) as latest_date from {{ ref('stg_crm__customers') }}

),

final as (

    select
        {% if var('as_of_date', '') %}
            cast('{{ var("as_of_date") }}' as date)
        {% else %}
            coalesce(transactions.latest_date, sessions.latest_date, customers.latest_date)
        {% endif %} as as_of_date

    from transactions
    cross join sessions
    cross join customers

)

select * from final
