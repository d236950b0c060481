-- One row per CRM client: every input of the 360 view joined on client_id (each input is already one row per
-- client, so nothing fans out), with the transparent credit score and the value estimates computed here.
with

customers as (

    select * from {{ ref('stg_crm__customers') }}

),

as_of as (

    select * from {{ ref('int_as_of_date') }}

),

age_bands as (

    select * from {{ ref('age_bands') }}

),

income_bands as (

    select * from {{ ref('income_bands') }}

),

loan_statuses as (

    select * from {{ ref('loan_statuses') }}

),

banking as (

    select * from {{ ref('int_client_banking') }}

),

transactions as (

    select * from {{ ref('int_client_transactions') }}

),

products as (

    select * from {{ ref('int_client_products') }}

),

web as (

    select * from {{ ref('int_clients_web_activity') }}

),

retail as (

    select * from {{ ref('int_clients_retail_activity') }}

),

districts as (

    select * from {{ ref('stg_core_banking__districts') }}

),

joined as (

    select
        customers.client_id,
        as_of.as_of_date,
        {{ completed_years('customers.birth_date', 'as_of.as_of_date') }} as age,
        customers.gender,
        customers.marital_status,
        customers.is_head_of_household,
        customers.home_ownership,
        customers.occupation,
        customers.income_band,
        customers.cars_owned,
        cast(customers.client_created_at as date) as customer_since,
        banking.primary_account_id,
        banking.district_id,
        banking.statement_frequency,
        banking.current_balance,
        banking.balance_3m_ago,
        banking.balance_6m_ago,
        banking.balance_12m_ago,
        banking.avg_balance_12m,
        banking.days_negative_balance_12m,
        banking.sanction_interest_events_12m,
        banking.latest_loan_status,
        banking.latest_loan_amount,
        banking.problem_loan_count,
        transactions.credit_sum_3m,
        transactions.credit_count_3m,
        transactions.debit_sum_3m,
        transactions.debit_count_3m,
        transactions.credit_sum_6m,
        transactions.credit_count_6m,
        transactions.debit_sum_6m,
        transactions.debit_count_6m,
        transactions.credit_sum_12m,
        transactions.credit_count_12m,
        transactions.debit_sum_12m,
        transactions.debit_count_12m,
        transactions.last_transaction_date,
        transactions.transactions_12m,
        transactions.cash_transactions_12m,
        transactions.card_transactions_12m,
        transactions.transfer_transactions_12m,
        products.account_count,
        products.owned_account_count,
        products.accounts_opened_12m,
        products.card_count,
        products.junior_card_count,
        products.classic_card_count,
        products.gold_card_count,
        products.loan_count,
        products.standing_order_count,
        products.first_product_date,
        products.last_product_date,
        web.visitor_count,
        web.web_sessions_12m,
        web.web_pageviews_12m,
        web.last_web_visit_date,
        web.mobile_sessions_12m,
        web.mobile_share,
        web.organic_search_share,
        web.direct_share,
        web.paid_search_share,
        web.referral_share,
        web.social_share,
        web.display_share,
        web.affiliates_share,
        web.top_content_category,
        web.campaign_sessions_12m,
        web.campaign_conversions_12m,
        web.campaign_response_rate,
        web.web_country,
        web.web_city,
        retail.retail_order_count,
        retail.retail_line_count,
        retail.retail_sales,
        retail.retail_quantity,
        retail.retail_avg_discount,
        retail.retail_profit,
        retail.retail_sales_12m,
        retail.retail_profit_12m,
        retail.favourite_product,
        retail.favourite_industry,
        retail.last_order_date,
        districts.district_name,
        districts.region,
        districts.urban_ratio_pct,
        districts.average_salary as district_average_salary,
        districts.unemployment_rate_96 as district_unemployment_rate,
        cast(districts.crimes_96 as double) * 1000 / nullif(districts.inhabitants, 0) as district_crimes_per_1000,
        income_bands.expected_monthly_income,
        coalesce(income_bands.credit_score_points, 0) as income_points,
        coalesce(loan_statuses.credit_score_points, 0) as loan_points

    from customers
    cross join as_of
    left join banking
        on customers.client_id = banking.client_id
    left join transactions
        on customers.client_id = transactions.client_id
    left join products
        on customers.client_id = products.client_id
    left join web
        on customers.client_id = web.client_id
    left join retail
        on customers.client_id = retail.client_id
    left join districts
        on banking.district_id = districts.district_id
    left join income_bands
        on customers.income_band = income_bands.income_band
    left join loan_statuses
        on banking.latest_loan_status = loan_statuses.loan_status

),

scored as (

    select
        joined.*,
        cast({{ dbt.datediff('joined.customer_since', 'joined.as_of_date', 'day') }} as double  -- noqa: LT05
        )
        / 365.25
            as tenure_years,
        -- credit score inputs (points), each documented on its column
        cast(round(150 * least(1.0, greatest(0.0, coalesce(joined.avg_balance_12m, 0)) / 100000.0)) as integer)
            as score_balance_points,
        cast(
            least(
                100,
                10 * floor(
                    cast({{ dbt.datediff('joined.customer_since', 'joined.as_of_date', 'day') }} as double  -- noqa: LT05
                    )
                    / 365.25
                )
            ) as integer
        ) as score_tenure_points,
        joined.income_points as score_income_points,
        joined.loan_points as score_loan_points,
        -1 * least(200, 2 * coalesce(joined.days_negative_balance_12m, 0)) as score_negative_balance_points,
        -1 * least(150, 25 * coalesce(joined.sanction_interest_events_12m, 0)) as score_sanction_points,
        case
            when coalesce(joined.credit_sum_12m, 0) - coalesce(joined.debit_sum_12m, 0) > 0 then 50 else 0
        end as score_net_flow_points

    from joined

),

final as (

    select
        scored.*,
        age_bands.age_band,
        age_bands.life_stage,
        cast(
            greatest(
                0,
                least(
                    1000,
                    500
                    + scored.score_balance_points
                    + scored.score_tenure_points
                    + scored.score_income_points
                    + scored.score_loan_points
                    + scored.score_negative_balance_points
                    + scored.score_sanction_points
                    + scored.score_net_flow_points
                )
            ) as integer
        ) as credit_score,
        -- value: yearly margin proxy x expected remaining years of the relationship
        (
            0.015 * greatest(0.0, coalesce(scored.avg_balance_12m, 0))
            + 0.005 * coalesce(scored.debit_sum_12m, 0)
            + coalesce(scored.retail_profit_12m, 0)
        ) * least(20.0, greatest(1.0, (80 - scored.age) / 2.0)) as lifetime_value_estimate,
        least(
            1.0,
            coalesce(scored.credit_sum_12m, 0) / nullif(12.0 * scored.expected_monthly_income, 0)
        ) as share_of_wallet

    from scored
    left join age_bands
        on scored.age between age_bands.min_age and age_bands.max_age

)

select * from final
