-- reporting: create revenue
-- Applied by `pulumi up` (the service's migration function), once, in order, in one transaction, in the service's
-- schema (reporting). Never edit a migration once it is deployed: add the next one (npm run new-migration).
-- Revenue per customer per day: the projection of ledger.entry-posted (one row per customer and day, the sum of
-- the day's posted amounts in cents and how many entries made it).
CREATE TABLE revenue (
  customer_id text NOT NULL,
  day date NOT NULL,
  amount_cents bigint NOT NULL,
  entries integer NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (customer_id, day)
);
