@NullMarked
package dev.jevons.sim;

import org.jspecify.annotations.NullMarked;
