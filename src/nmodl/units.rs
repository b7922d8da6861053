//! Units of the UNITS block: enough of a unit system to give the named constants of .mod files
//! (`FARADAY = (faraday) (coulomb)`, `R = (k-mole) (joule/degC)`, `PI = (pi) (1)`) the values
//! NEURON 9 gives them.
//!
//! A unit is a magnitude times powers of five base dimensions (metre, kilogram, second, coulomb,
//! kelvin); `mole` is a pure number, as in NEURON's unit table. The physical constants are the
//! exact 2019 SI values (so `faraday = e * mole = 96485.33212331001` coulomb and
//! `k-mole = 8.31446261815324` joule/kelvin). Unit expressions: factors separated by spaces or `-`
//! multiply, everything after a `/` divides, a trailing integer is a power (`cm2`), a number is a
//! factor, names may carry an SI prefix (`milli`, `m`, `micro`, `u`, ...) and a plural `s`.

/// Magnitude and dimension exponents [m, kg, s, C, K].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantity {
    pub factor: f64,
    pub dims: [i32; 5],
}

impl Quantity {
    const ONE: Quantity = Quantity {
        factor: 1.0,
        dims: [0; 5],
    };

    fn mul(self, o: Quantity) -> Quantity {
        let mut dims = self.dims;
        for (d, e) in dims.iter_mut().zip(o.dims) {
            *d += e;
        }
        Quantity {
            factor: self.factor * o.factor,
            dims,
        }
    }

    fn div(self, o: Quantity) -> Quantity {
        let mut dims = self.dims;
        for (d, e) in dims.iter_mut().zip(o.dims) {
            *d -= e;
        }
        Quantity {
            factor: self.factor / o.factor,
            dims,
        }
    }

    fn pow(self, n: i32) -> Quantity {
        let mut q = Quantity::ONE;
        for _ in 0..n.unsigned_abs() {
            q = q.mul(self);
        }
        if n < 0 {
            Quantity::ONE.div(q)
        } else {
            q
        }
    }
}

const BASE: &[(&str, [i32; 5])] = &[
    ("m", [1, 0, 0, 0, 0]),
    ("kg", [0, 1, 0, 0, 0]),
    ("sec", [0, 0, 1, 0, 0]),
    ("coul", [0, 0, 0, 1, 0]),
    ("K", [0, 0, 0, 0, 1]),
];

/// Derived units, each defined by earlier ones.
const DERIVED: &[(&str, &str)] = &[
    ("pi", "3.14159265358979323846"),
    ("mole", "6.02214076e23"),
    ("mol", "mole"),
    ("avogadro", "mole"),
    ("e", "1.602176634e-19 coul"),
    ("meter", "m"),
    ("metre", "m"),
    ("micron", "micrometer"),
    ("s", "sec"),
    ("second", "sec"),
    ("minute", "60 sec"),
    ("min", "minute"),
    ("hour", "60 min"),
    ("hr", "hour"),
    ("day", "24 hr"),
    ("gram", "millikg"),
    ("gm", "gram"),
    ("cc", "cm3"),
    ("liter", "kilocc"),
    ("litre", "liter"),
    ("newton", "kg-m/sec2"),
    ("nt", "newton"),
    ("joule", "nt-m"),
    ("J", "joule"),
    ("erg", "cm2-gram/sec2"),
    ("cal", "4.1868 joule"),
    ("calorie", "cal"),
    ("coulomb", "coul"),
    ("C", "coul"),
    ("ampere", "coul/sec"),
    ("amp", "ampere"),
    ("A", "ampere"),
    ("watt", "joule/sec"),
    ("W", "watt"),
    ("volt", "watt/amp"),
    ("V", "volt"),
    ("ohm", "volt/amp"),
    ("mho", "/ohm"),
    ("siemens", "/ohm"),
    ("S", "siemens"),
    ("farad", "coul/volt"),
    ("F", "farad"),
    ("degC", "K"),
    ("degK", "K"),
    ("kelvin", "K"),
    ("faraday", "e-mole"),
    ("boltzmann", "1.380649e-23 joule/K"),
    ("k", "boltzmann"),
    ("gasconstant", "k-mole"),
    ("R", "gasconstant"),
    ("planck", "6.62607015e-34 joule-sec"),
    ("molar", "mole/liter"),
];

const PREFIXES: &[(&str, f64)] = &[
    ("yotta", 1e24),
    ("zetta", 1e21),
    ("exa", 1e18),
    ("peta", 1e15),
    ("tera", 1e12),
    ("giga", 1e9),
    ("mega", 1e6),
    ("myria", 1e4),
    ("kilo", 1e3),
    ("hecto", 1e2),
    ("deka", 1e1),
    ("deci", 1e-1),
    ("centi", 1e-2),
    ("milli", 1e-3),
    ("micro", 1e-6),
    ("nano", 1e-9),
    ("pico", 1e-12),
    ("femto", 1e-15),
    ("atto", 1e-18),
    ("zepto", 1e-21),
    ("yocto", 1e-24),
    ("da", 1e1),
    ("Y", 1e24),
    ("Z", 1e21),
    ("E", 1e18),
    ("P", 1e15),
    ("T", 1e12),
    ("G", 1e9),
    ("M", 1e6),
    ("k", 1e3),
    ("h", 1e2),
    ("d", 1e-1),
    ("c", 1e-2),
    ("m", 1e-3),
    ("u", 1e-6),
    ("n", 1e-9),
    ("p", 1e-12),
    ("f", 1e-15),
    ("a", 1e-18),
];

/// A unit table: the built-in units plus those a file defines with `(name) = (definition)`.
#[derive(Clone, Debug)]
pub struct Units {
    table: Vec<(String, Quantity)>,
}

impl Default for Units {
    fn default() -> Self {
        Self::new()
    }
}

impl Units {
    pub fn new() -> Units {
        let mut u = Units { table: Vec::new() };
        for (name, dims) in BASE {
            u.table.push((
                name.to_string(),
                Quantity {
                    factor: 1.0,
                    dims: *dims,
                },
            ));
        }
        for (name, def) in DERIVED {
            // The table is ours and consistent; a failure here would be a bug caught by tests.
            if let Ok(q) = u.eval(def) {
                u.table.push((name.to_string(), q));
            }
        }
        u
    }

    /// Define (or redefine) `name` as `definition`.
    pub fn define(&mut self, name: &str, definition: &str) -> Result<Quantity, String> {
        let q = self.eval(definition)?;
        self.table.push((name.to_string(), q));
        Ok(q)
    }

    /// The magnitude of `from` expressed in `to` (`(faraday) (coulomb)` gives 96485.33...).
    pub fn convert(&self, from: &str, to: &str) -> Result<f64, String> {
        let a = self.eval(from)?;
        let b = self.eval(to)?;
        if a.dims != b.dims {
            return Err(format!("`{from}` cannot be expressed in `{to}`"));
        }
        Ok(a.factor / b.factor)
    }

    fn lookup_exact(&self, name: &str) -> Option<Quantity> {
        // latest definition wins
        self.table
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, q)| *q)
    }

    fn lookup(&self, name: &str) -> Option<Quantity> {
        if let Some(q) = self.lookup_exact(name) {
            return Some(q);
        }
        if name.len() > 2 {
            if let Some(stem) = name.strip_suffix('s') {
                if let Some(q) = self.lookup_exact(stem) {
                    return Some(q);
                }
            }
        }
        // a long prefix on its own is a number: (milli/liter)
        if let Some((_, f)) = PREFIXES.iter().find(|(p, _)| p.len() > 2 && *p == name) {
            return Some(Quantity {
                factor: *f,
                dims: [0; 5],
            });
        }
        for (p, f) in PREFIXES {
            if let Some(rest) = name.strip_prefix(p) {
                if rest.is_empty() {
                    continue;
                }
                let base = self.lookup_exact(rest).or_else(|| {
                    rest.strip_suffix('s')
                        .filter(|s| s.len() > 1)
                        .and_then(|s| self.lookup_exact(s))
                });
                if let Some(q) = base {
                    return Some(Quantity {
                        factor: f * q.factor,
                        dims: q.dims,
                    });
                }
            }
        }
        None
    }

    /// The quantity of a unit expression.
    pub fn eval(&self, text: &str) -> Result<Quantity, String> {
        let mut q = Quantity::ONE;
        let mut denominator = false;
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() || c == '-' || c == '*' {
                i += 1;
                continue;
            }
            if c == '/' {
                denominator = true;
                i += 1;
                continue;
            }
            let start = i;
            let factor = if c.is_ascii_digit() || c == '.' {
                while i < chars.len()
                    && (chars[i].is_ascii_digit()
                        || chars[i] == '.'
                        || ((chars[i] == 'e' || chars[i] == 'E')
                            && i + 1 < chars.len()
                            && (chars[i + 1].is_ascii_digit() || chars[i + 1] == '-')))
                {
                    if chars[i] == 'e' || chars[i] == 'E' {
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                let s: String = chars[start..i].iter().collect();
                let v: f64 = s.parse().map_err(|_| format!("bad number `{s}` in unit"))?;
                Quantity {
                    factor: v,
                    dims: [0; 5],
                }
            } else if c.is_alphabetic() || c == '_' {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                match self.lookup(&word) {
                    Some(q) => q,
                    None => {
                        // trailing digits as a power: cm2, sec2
                        let stem = word.trim_end_matches(|ch: char| ch.is_ascii_digit());
                        let power = &word[stem.len()..];
                        match (self.lookup(stem), power.parse::<i32>()) {
                            (Some(q), Ok(n)) if !stem.is_empty() && n <= 9 => q.pow(n),
                            _ => return Err(format!("unknown unit `{word}`")),
                        }
                    }
                }
            } else {
                return Err(format!("unexpected `{c}` in unit `{text}`"));
            };
            q = if denominator {
                q.div(factor)
            } else {
                q.mul(factor)
            };
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_unit_is_defined() {
        let u = Units::new();
        for (name, _) in DERIVED {
            assert!(u.lookup_exact(name).is_some(), "{name}");
        }
    }

    #[test]
    fn neuron_9_constants() {
        let u = Units::new();
        assert_eq!(u.convert("faraday", "coulomb").unwrap(), 96485.33212331001);
        assert_eq!(u.convert("faraday", "coulombs").unwrap(), 96485.33212331001);
        assert_eq!(u.convert("k-mole", "joule/degC").unwrap(), 8.31446261815324);
        assert_eq!(u.convert("pi", "1").unwrap(), std::f64::consts::PI);
        let kc = u.convert("faraday", "kilocoulombs").unwrap();
        assert!((kc - 96.48533212331001).abs() < 1e-12);
        assert!(u.convert("faraday", "joule").is_err());
    }

    #[test]
    fn prefixes_powers_and_file_definitions() {
        let mut u = Units::new();
        let q = u.eval("mA/cm2").unwrap();
        assert!((q.factor - 10.0).abs() < 1e-12);
        assert_eq!(q.dims, [-2, 0, -1, 1, 0]);
        u.define("molar", "1/liter").unwrap();
        u.define("mM", "millimolar").unwrap();
        let mm = u.eval("mM").unwrap();
        assert!((mm.factor - 1.0).abs() < 1e-12); // 1e-3 / 1e-3 m3
        assert_eq!(mm.dims, [-3, 0, 0, 0, 0]);
        assert!(u.eval("ms mM").is_ok());
        let per_l = u.eval("milli/liter").unwrap();
        assert!((per_l.factor - 1.0).abs() < 1e-12);
        assert!(u.eval(".001 coul/cm3").is_ok());
        assert!(u.eval("/ms").unwrap().dims == [0, 0, -1, 0, 0]);
        assert!(u.eval("um").unwrap().factor == 1e-6);
        assert!(u.eval("frobnitz").is_err());
        assert!(u.eval("cm99").is_err());
    }
}
