@NullMarked
package dev.jevons.cli;

import org.jspecify.annotations.NullMarked;
