@NullMarked
package dev.jevons.gateway;

import org.jspecify.annotations.NullMarked;
