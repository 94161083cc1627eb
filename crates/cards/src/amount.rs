//! Money rules: card amounts are whole dollars from `$1` to [`MAX_AMOUNT`].

use thiserror::Error;

/// The largest amount, in dollars, a card may carry.
pub const MAX_AMOUNT: i64 = 10_000;

/// Why an amount was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AmountError {
    #[error("Amount must be a whole number, like 25.")]
    NotANumber,
    #[error("Amount must be a whole number of dollars.")]
    NotWhole,
    #[error("Amount must be at least $1.")]
    TooSmall,
    #[error("Amount must be at most ${}.", MAX_AMOUNT)]
    TooLarge,
}

/// Checks that `amount` (in dollars) is within `1..=MAX_AMOUNT`.
pub fn validate_amount(amount: i64) -> Result<i64, AmountError> {
    if amount < 1 {
        Err(AmountError::TooSmall)
    } else if amount > MAX_AMOUNT {
        Err(AmountError::TooLarge)
    } else {
        Ok(amount)
    }
}

/// Parses the amount a user typed, such as `25` or `$25`.
///
/// Surrounding whitespace is ignored and an empty input means `default` (the
/// product's recommended price), which must itself be a valid amount. Only
/// plain digits are accepted: no sign, no decimals, no exponent.
pub fn parse_amount(input: &str, default: i64) -> Result<i64, AmountError> {
    let text = input.trim();
    if text.is_empty() {
        return validate_amount(default);
    }
    let text = text.strip_prefix('$').unwrap_or(text);
    let (negative, number) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (number, None),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let has_digit = !whole.is_empty() || fraction.is_some_and(|f| !f.is_empty());
    if !has_digit || !all_digits(whole) || !fraction.is_none_or(all_digits) {
        return Err(AmountError::NotANumber);
    }
    if negative {
        return Err(AmountError::TooSmall);
    }
    if fraction.is_some() {
        return Err(AmountError::NotWhole);
    }
    // `whole` is a non-empty run of ASCII digits, so parsing can only fail by
    // overflowing, which means the amount is far too large.
    let amount = whole.parse().map_err(|_| AmountError::TooLarge)?;
    validate_amount(amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_plain_and_dollar_amounts() {
        assert_eq!(parse_amount("25", 95), Ok(25));
        assert_eq!(parse_amount("  $25 \n", 95), Ok(25));
        assert_eq!(parse_amount("0001", 95), Ok(1));
        assert_eq!(parse_amount("10000", 95), Ok(MAX_AMOUNT));
        assert_eq!(parse_amount("$10000", 95), Ok(MAX_AMOUNT));
    }

    #[test]
    fn empty_input_means_the_default() {
        assert_eq!(parse_amount("", 95), Ok(95));
        assert_eq!(parse_amount(" \t ", 1999), Ok(1999));
        assert_eq!(parse_amount("", 0), Err(AmountError::TooSmall));
        assert_eq!(parse_amount("", 10_001), Err(AmountError::TooLarge));
    }

    #[test]
    fn rejects_decimals() {
        for input in ["12.50", "$12.50", "12.", ".5", "12.00"] {
            assert_eq!(
                parse_amount(input, 95),
                Err(AmountError::NotWhole),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_zero_and_negative_amounts() {
        for input in ["0", "$0", "-5", "$-5", "-0", "-12.50", "000"] {
            assert_eq!(
                parse_amount(input, 95),
                Err(AmountError::TooSmall),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_amounts_above_the_maximum() {
        for input in ["10001", "99999999999999999999999999999999999999"] {
            assert_eq!(
                parse_amount(input, 95),
                Err(AmountError::TooLarge),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_non_numbers() {
        for input in [
            "abc", "$", "-", ".", "+5", "1e3", "5$", "$ 5", "$$5", "-$5", "1 000", "1,000", "١٢",
            "12.5.0", "0x10",
        ] {
            assert_eq!(
                parse_amount(input, 95),
                Err(AmountError::NotANumber),
                "{input}"
            );
        }
    }

    #[test]
    fn validate_amount_bounds() {
        assert_eq!(validate_amount(1), Ok(1));
        assert_eq!(validate_amount(MAX_AMOUNT), Ok(MAX_AMOUNT));
        assert_eq!(validate_amount(0), Err(AmountError::TooSmall));
        assert_eq!(validate_amount(i64::MIN), Err(AmountError::TooSmall));
        assert_eq!(validate_amount(MAX_AMOUNT + 1), Err(AmountError::TooLarge));
    }

    #[test]
    fn messages() {
        assert_eq!(
            AmountError::NotANumber.to_string(),
            "Amount must be a whole number, like 25."
        );
        assert_eq!(
            AmountError::NotWhole.to_string(),
            "Amount must be a whole number of dollars."
        );
        assert_eq!(
            AmountError::TooSmall.to_string(),
            "Amount must be at least $1."
        );
        assert_eq!(
            AmountError::TooLarge.to_string(),
            "Amount must be at most $10000."
        );
    }

    proptest! {
        #[test]
        fn never_panics(input in "\\PC*") {
            let _ = parse_amount(&input, 95);
        }

        #[test]
        fn valid_amounts_round_trip(amount in 1..=MAX_AMOUNT) {
            prop_assert_eq!(parse_amount(&amount.to_string(), 95), Ok(amount));
            prop_assert_eq!(parse_amount(&format!("${amount}"), 95), Ok(amount));
        }
    }
}
