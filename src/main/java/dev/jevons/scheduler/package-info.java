/**
 * Admission: rate limits, routing among replicas, (with the fair queue) capacity. Domain code: no
 * HTTP, JSON or SQL types, and no dependency on {@code upstream}; the gateway translates replicas
 * and requests into the plain values these classes take.
 */
@NullMarked
package dev.jevons.scheduler;

import org.jspecify.annotations.NullMarked;
