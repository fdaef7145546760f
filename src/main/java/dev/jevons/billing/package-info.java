/**
 * Money and prices: the exact money type, per-model price schedules with daily discount windows,
 * and the quote a request carries from arrival to settlement. Knows nothing of HTTP, JSON or SQL;
 * the {@code store} package implements {@link dev.jevons.billing.PriceStore}.
 */
@NullMarked
package dev.jevons.billing;

import org.jspecify.annotations.NullMarked;
