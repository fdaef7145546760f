-- Account tiers for admission (dev.jevons.scheduler.FairQueue): a strict priority band (0 is served
-- first, 1 the default, 2 last) and a weight for fair sharing within the band (an account with
-- weight 2 gets twice the service of one with weight 1 while both wait).
ALTER TABLE accounts ADD COLUMN priority_band INTEGER NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN fair_weight INTEGER NOT NULL DEFAULT 1;
