//! Secrets as Junos keeps them: a key typed in clear (`authentication-key s3cret`) is stored and
//! shown in Junos's reversible `$9$` form, never in clear; a value that is already concealed
//! (`$9$...`, or a `$1$`/`$5$`/`$6$` password hash) is kept as it came.
//!
//! The `$9$` form, as publicly described: a salt character, as many filler characters as the
//! salt's family says, then each character of the secret as a run of characters whose distances
//! along a 65-character alphabet, weighted by a rotating table, add up to its code. The lab needs
//! only to write it (and to read it, for its own test); the salt and filler come from the secret
//! itself, so the same key is concealed the same way on every run.

/// The alphabet, in four families; a salt from family `i` is followed by `3 - i` fillers.
const FAMILIES: [&str; 4] = ["QzF3n6/9CAtpu0O", "B1IREhcSyrleKvMW8LXx", "7N-dVbwsY2g4oaJZGUDj", "iHkq.mPf5T"];

/// The weights of each character's run, by the character's position in the secret.
const WEIGHTS: [&[u32]; 7] =
    [&[1, 4, 32], &[1, 16, 32], &[1, 8, 32], &[1, 64], &[1, 32], &[1, 4, 16, 128], &[1, 32, 64]];

fn alphabet() -> Vec<char> {
    FAMILIES.iter().flat_map(|f| f.chars()).collect()
}

fn fillers(salt: char) -> usize {
    FAMILIES.iter().position(|f| f.contains(salt)).map_or(0, |family| 3 - family)
}

/// Whether `value` is already in a concealed form Junos keeps as given.
pub(super) fn is_concealed(value: &str) -> bool {
    ["$9$", "$1$", "$5$", "$6$"].iter().any(|p| value.starts_with(p))
}

/// `value` concealed, unless it already is or cannot be (a character outside one byte).
pub(super) fn conceal(value: &str) -> String {
    if is_concealed(value) || value.is_empty() || !value.chars().all(|c| (c as u32) < 256) {
        return value.to_string();
    }
    let alphabet = alphabet();
    let n = alphabet.len() as u32;
    // A small deterministic generator seeded by the secret (FNV-1a), for the salt and fillers.
    let mut state: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.bytes() {
        state = (state ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % u64::from(n)) as usize
    };
    let salt = alphabet[next()];
    let mut out = format!("$9${salt}");
    for _ in 0..fillers(salt) {
        out.push(alphabet[next()]);
    }
    let mut previous = salt;
    for (position, c) in value.chars().enumerate() {
        let weights = WEIGHTS[position % WEIGHTS.len()];
        let mut code = c as u32;
        // Gaps from the heaviest weight down, written lightest first.
        let mut gaps = vec![0; weights.len()];
        for (i, weight) in weights.iter().enumerate().rev() {
            gaps[i] = code / weight;
            code %= weight;
        }
        for gap in gaps {
            let at = alphabet.iter().position(|&a| a == previous).unwrap_or(0) as u32;
            previous = alphabet[((at + gap + 1) % n) as usize];
            out.push(previous);
        }
    }
    out
}

/// The clear text of a `$9$` secret (for tests), or None when it is not one.
#[cfg(test)]
pub(super) fn reveal(concealed: &str) -> Option<String> {
    let alphabet = alphabet();
    let n = alphabet.len() as i64;
    let index = |c: char| alphabet.iter().position(|&a| a == c).map(|i| i as i64);
    let mut chars = concealed.strip_prefix("$9$")?.chars();
    let salt = chars.next()?;
    for _ in 0..fillers(salt) {
        chars.next()?;
    }
    let rest: Vec<char> = chars.collect();
    let mut out = String::new();
    let mut previous = salt;
    let mut at = 0;
    while at < rest.len() {
        let weights = WEIGHTS[out.chars().count() % WEIGHTS.len()];
        let run = rest.get(at..at + weights.len())?;
        let mut code = 0u32;
        for (c, weight) in run.iter().zip(weights) {
            let gap = (index(*c)? - index(previous)?).rem_euclid(n) - 1;
            code += u32::try_from(gap).ok()? * weight;
            previous = *c;
        }
        out.push(char::from_u32(code)?);
        at += weights.len();
    }
    Some(out)
}
