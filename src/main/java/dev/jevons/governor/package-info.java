/**
 * The demand governor: gates that close top-ups and sign-ups when capacity is tight and reopen
 * them when it recovers, the capacity signals behind them, their audit trail, and demand shaping
 * (off-peak price proposals). Knows nothing of HTTP or SQL; {@link dev.jevons.governor.GovernorStore}
 * is the port the store implements.
 */
@NullMarked
package dev.jevons.governor;

import org.jspecify.annotations.NullMarked;
