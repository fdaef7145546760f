/** Admission: rate limits, the capacity model, the fair queue, dispatch and shedding. */
@NullMarked
package dev.jevons.scheduler;

import org.jspecify.annotations.NullMarked;
