@NullMarked
package dev.jevons.store;

import org.jspecify.annotations.NullMarked;
