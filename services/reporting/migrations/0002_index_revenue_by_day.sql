-- reporting: index revenue by day
-- Applied by `pulumi up` (the service's migration function), once, in order, in one transaction, in the service's
-- schema (reporting). Never edit a migration once it is deployed: add the next one (npm run new-migration).
-- The day's revenue across customers (GET /reports/revenue?day=...) reads by day.
CREATE INDEX revenue_by_day ON revenue (day);
