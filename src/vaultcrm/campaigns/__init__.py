"""Marketing campaigns (精准营销): a note per campaign listing its customers and coupons, sends through
the reminder channels to customers who allow marketing, coupons redeemed by `log`, and their figures."""
