{{ config(contract={'enforced': true}) }}

-- One row per client: RFM scores (1-5, by quintile over all clients; ties broken by client_id so the result is
-- deterministic), the RFM segment, the lifetime value estimate and the value tier.
with

features as (

    select * from {{ ref('int_customer_features') }}

),

metrics as (

    select
        client_id,
        as_of_date,
        tenure_years,
        lifetime_value_estimate,
        {{ dbt.datediff('last_transaction_date', 'as_of_date', 'day') }} as days_since_last_transaction,  -- noqa: LT05
        coalesce(transactions_12m, 0) as transactions_12m,
        coalesce(credit_sum_12m, 0) as credit_sum_12m

    from features

),

scored as (

    select
        metrics.*,
        ntile(5)
            over (order by coalesce(metrics.days_since_last_transaction, 999999) desc, metrics.client_id)
            as recency_score,
        ntile(5) over (order by metrics.transactions_12m, metrics.client_id) as frequency_score,
        ntile(5) over (order by metrics.credit_sum_12m, metrics.client_id) as monetary_score,
        percent_rank()
            over (order by coalesce(metrics.lifetime_value_estimate, 0), metrics.client_id)
            as value_percentile

    from metrics

),

final as (

    select
        client_id,
        as_of_date,
        cast(recency_score as integer) as recency_score,
        cast(frequency_score as integer) as frequency_score,
        cast(monetary_score as integer) as monetary_score,
        case
            when tenure_years < 0.5 then 'new'
            when recency_score >= 4 and frequency_score >= 4 and monetary_score >= 4 then 'champions'
            when frequency_score >= 4 and recency_score >= 3 then 'loyal'
            when recency_score >= 4 then 'potential'
            when recency_score <= 2 and frequency_score >= 3 then 'at risk'
            when recency_score <= 2 then 'hibernating'
            else 'needs attention'
        end as rfm_segment,
        cast(lifetime_value_estimate as double) as lifetime_value_estimate,
        case
            when value_percentile >= 0.9 then 'platinum'
            when value_percentile >= 0.7 then 'gold'
            when value_percentile >= 0.4 then 'silver'
            else 'bronze'
        end as value_tier

    from scored

)

select * from final
