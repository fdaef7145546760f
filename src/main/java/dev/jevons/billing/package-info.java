/**
 * Money: the exact money type, per-model price schedules with daily discount windows, the quote a
 * request carries from arrival to settlement, and the prepaid ledger (two-phase reservations over
 * granted and topped-up credit). No SQL, HTTP or JSON here; persistence is behind {@link
 * dev.jevons.billing.PriceStore} and {@link dev.jevons.billing.LedgerStore}.
 */
@NullMarked
package dev.jevons.billing;

import org.jspecify.annotations.NullMarked;
