@NullMarked
package dev.jevons.api;

import org.jspecify.annotations.NullMarked;
