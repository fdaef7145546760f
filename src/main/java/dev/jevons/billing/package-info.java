/**
 * Money: the prepaid ledger (two-phase reservations over granted and topped-up credit), and later
 * prices and usage records. No SQL, HTTP or JSON here; persistence is behind {@link
 * dev.jevons.billing.LedgerStore}.
 */
@NullMarked
package dev.jevons.billing;

import org.jspecify.annotations.NullMarked;
