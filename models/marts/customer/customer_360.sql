{{ config(contract={'enforced': true}) }}

with

features as (

    select * from {{ ref('int_customer_features') }}

),

segments as (

    select * from {{ ref('customer_segments') }}

),

final as (

    select
        features.client_id,
        features.as_of_date,
        -- demographic
        cast(features.age as integer) as age,
        features.age_band,
        features.life_stage,
        features.gender,
        features.marital_status,
        features.is_head_of_household,
        features.home_ownership,
        features.occupation,
        features.income_band,
        features.cars_owned,
        -- loyalty
        features.customer_since,
        cast(round(features.tenure_years, 2) as double) as tenure_years,
        features.first_product_date,
        features.last_product_date,
        cast({{ dbt.datediff('features.last_product_date', 'features.as_of_date', 'day') }} as integer  -- noqa: LT05
        )
            as days_since_last_product,
        features.last_transaction_date,
        cast({{ dbt.datediff('features.last_transaction_date', 'features.as_of_date', 'day') }} as integer  -- noqa: LT05
        )
            as days_since_last_transaction,
        cast(coalesce(features.transactions_12m, 0) as integer) as transactions_12m,
        features.last_web_visit_date,
        cast({{ dbt.datediff('features.last_web_visit_date', 'features.as_of_date', 'day') }} as integer  -- noqa: LT05
        )
            as days_since_last_web_visit,
        cast(coalesce(features.web_sessions_12m, 0) as integer) as web_sessions_12m,
        cast(coalesce(features.accounts_opened_12m, 0) as integer) as accounts_opened_12m,
        cast(features.current_balance - features.balance_3m_ago as double) as balance_growth_3m,
        cast(features.current_balance - features.balance_6m_ago as double) as balance_growth_6m,
        cast(features.current_balance - features.balance_12m_ago as double) as balance_growth_12m,
        -- client value
        cast(features.current_balance as double) as current_balance,
        cast(features.avg_balance_12m as double) as avg_balance_12m,
        cast(coalesce(features.credit_sum_12m, 0) - coalesce(features.debit_sum_12m, 0) as double) as net_flow_12m,
        {%- for months in [3, 6, 12] %}
            cast(coalesce(features.credit_sum_{{ months }}m, 0) as double) as credit_sum_{{ months }}m,
            cast(coalesce(features.credit_count_{{ months }}m, 0) as integer) as credit_count_{{ months }}m,
            cast(features.credit_sum_{{ months }}m as double) / nullif(features.credit_count_{{ months }}m, 0)
                as avg_credit_{{ months }}m,
            cast(coalesce(features.debit_sum_{{ months }}m, 0) as double) as debit_sum_{{ months }}m,
            cast(coalesce(features.debit_count_{{ months }}m, 0) as integer) as debit_count_{{ months }}m,
            cast(features.debit_sum_{{ months }}m as double) / nullif(features.debit_count_{{ months }}m, 0)
                as avg_debit_{{ months }}m,
        {%- endfor %}
        cast(features.retail_sales as double) as retail_sales,
        cast(features.retail_profit as double) as retail_profit,
        cast(features.lifetime_value_estimate as double) as lifetime_value_estimate,
        cast(features.share_of_wallet as double) as share_of_wallet,
        -- risk
        features.latest_loan_status as loan_status,
        cast(features.latest_loan_amount as double) as loan_amount,
        cast(coalesce(features.problem_loan_count, 0) as integer) as problem_loan_count,
        cast(coalesce(features.days_negative_balance_12m, 0) as integer) as days_negative_balance_12m,
        cast(coalesce(features.sanction_interest_events_12m, 0) as integer) as sanction_interest_events_12m,
        features.credit_score,
        case
            when features.credit_score >= 800 then 'excellent'
            when features.credit_score >= 650 then 'good'
            when features.credit_score >= 500 then 'fair'
            when features.credit_score >= 350 then 'poor'
            else 'very poor'
        end as credit_score_band,
        features.score_balance_points,
        features.score_tenure_points,
        features.score_income_points,
        features.score_loan_points,
        cast(features.score_negative_balance_points as integer) as score_negative_balance_points,
        cast(features.score_sanction_points as integer) as score_sanction_points,
        features.score_net_flow_points,
        cast(features.district_unemployment_rate as double) as district_unemployment_rate,
        cast(features.district_crimes_per_1000 as double) as district_crimes_per_1000,
        -- marketing and communication
        case
            when
                greatest(
                    coalesce(features.cash_transactions_12m, 0),
                    coalesce(features.card_transactions_12m, 0),
                    coalesce(features.transfer_transactions_12m, 0),
                    coalesce(features.web_sessions_12m, 0) - coalesce(features.mobile_sessions_12m, 0),
                    coalesce(features.mobile_sessions_12m, 0)
                ) = 0
                then null
            when coalesce(features.mobile_sessions_12m, 0) >= greatest(
                    coalesce(features.cash_transactions_12m, 0),
                    coalesce(features.card_transactions_12m, 0),
                    coalesce(features.transfer_transactions_12m, 0),
                    coalesce(features.web_sessions_12m, 0) - coalesce(features.mobile_sessions_12m, 0)
                ) then 'mobile'
            when coalesce(features.web_sessions_12m, 0) - coalesce(features.mobile_sessions_12m, 0) >= greatest(
                    coalesce(features.cash_transactions_12m, 0),
                    coalesce(features.card_transactions_12m, 0),
                    coalesce(features.transfer_transactions_12m, 0)
                ) then 'web'
            when coalesce(features.card_transactions_12m, 0) >= greatest(
                    coalesce(features.cash_transactions_12m, 0), coalesce(features.transfer_transactions_12m, 0)
                ) then 'card'
            when coalesce(features.transfer_transactions_12m, 0) >= coalesce(features.cash_transactions_12m, 0)
                then 'transfer'
            else 'cash'
        end as preferred_channel,
        cast(coalesce(features.cash_transactions_12m, 0) as integer) as cash_transactions_12m,
        cast(coalesce(features.card_transactions_12m, 0) as integer) as card_transactions_12m,
        cast(coalesce(features.transfer_transactions_12m, 0) as integer) as transfer_transactions_12m,
        cast(coalesce(features.web_pageviews_12m, 0) as integer) as web_pageviews_12m,
        cast(features.mobile_share as double) as mobile_share,
        cast(features.organic_search_share as double) as organic_search_share,
        cast(features.direct_share as double) as direct_share,
        cast(features.paid_search_share as double) as paid_search_share,
        cast(features.referral_share as double) as referral_share,
        cast(features.social_share as double) as social_share,
        cast(features.display_share as double) as display_share,
        cast(features.affiliates_share as double) as affiliates_share,
        features.top_content_category,
        cast(coalesce(features.campaign_sessions_12m, 0) as integer) as campaign_sessions_12m,
        cast(coalesce(features.campaign_conversions_12m, 0) as integer) as campaign_conversions_12m,
        cast(features.campaign_response_rate as double) as campaign_response_rate,
        features.statement_frequency,
        -- customer history and product adoption
        cast(coalesce(features.account_count, 0) as integer) as account_count,
        cast(coalesce(features.card_count, 0) as integer) as card_count,
        cast(coalesce(features.junior_card_count, 0) as integer) as junior_card_count,
        cast(coalesce(features.classic_card_count, 0) as integer) as classic_card_count,
        cast(coalesce(features.gold_card_count, 0) as integer) as gold_card_count,
        cast(coalesce(features.loan_count, 0) as integer) as loan_count,
        cast(coalesce(features.standing_order_count, 0) as integer) as standing_order_count,
        coalesce(features.account_count, 0) > 0 as has_account,
        coalesce(features.card_count, 0) > 0 as has_card,
        coalesce(features.loan_count, 0) > 0 as has_loan,
        coalesce(features.standing_order_count, 0) > 0 as has_standing_order,
        coalesce(features.web_sessions_12m, 0) > 0 as is_web_user,
        coalesce(features.retail_order_count, 0) > 0 as is_retail_customer,
        cast(
            case when coalesce(features.account_count, 0) > 0 then 1 else 0 end
            + case when coalesce(features.card_count, 0) > 0 then 1 else 0 end
            + case when coalesce(features.loan_count, 0) > 0 then 1 else 0 end
            + case when coalesce(features.standing_order_count, 0) > 0 then 1 else 0 end
            + case when coalesce(features.retail_order_count, 0) > 0 then 1 else 0 end
            as integer
        ) as product_count,
        -- shopping
        cast(coalesce(features.retail_order_count, 0) as integer) as retail_order_count,
        cast(coalesce(features.retail_quantity, 0) as integer) as retail_quantity,
        cast(features.retail_avg_discount as double) as retail_avg_discount,
        features.favourite_product,
        features.favourite_industry,
        features.last_order_date,
        -- geographic
        features.district_id,
        features.district_name,
        features.region,
        cast(features.urban_ratio_pct as double) as urban_ratio_pct,
        cast(features.district_average_salary as integer) as district_average_salary,
        features.web_country,
        features.web_city,
        -- segments
        segments.rfm_segment,
        segments.recency_score,
        segments.frequency_score,
        segments.monetary_score,
        segments.value_tier

    from features
    inner join segments
        on features.client_id = segments.client_id

)

select * from final
