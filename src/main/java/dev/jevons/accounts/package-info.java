@NullMarked
package dev.jevons.accounts;

import org.jspecify.annotations.NullMarked;
