@NullMarked
package dev.jevons.upstream;

import org.jspecify.annotations.NullMarked;
