@NullMarked
package dev.jevons.config;

import org.jspecify.annotations.NullMarked;
