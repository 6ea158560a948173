//! Who may do what in the menu, as the boot loaders enforce it.
//!
//! **GRUB 2** (`grub-core/normal/auth.c`, `menu.c`, `menu_entry.c`, `commands/menuentry.c`):
//! nothing is checked unless `$superusers` is set (even to the empty string). Then the
//! command line and the entry editor need a superuser; an entry (or submenu) needs a
//! superuser or one of the users of its `--users` list, unless it has `--unrestricted`;
//! an entry with neither option needs a superuser. A user who authenticated once stays
//! authenticated. User lists are split on blanks, `,`, `;`, `|` and `&` (`grub_strword`).
//! A failed attempt waits 1 s, then 2, 4, ... (GRUB's `punishment_delay`).
//!
//! **GRUB legacy** (`stage2/stage2.c`): with a global `password`, `e`, `c` (and PyGrub's
//! `a`) are refused until `p` and the right password; entries with `lock` need it to boot.
//!
//! [`Auth::from_menu`] takes all of it from the parsed menu: [`Menu::password`] (legacy),
//! [`Menu::superusers`], [`Menu::passwords`] and each entry's and submenu's `users` /
//! `unrestricted` (GRUB 2).

use super::password::{Credential, LegacyPassword};
use rsgrub_bootcfg::{Item, Menu, PasswordKind};
use std::collections::{BTreeMap, BTreeSet};

/// GRUB 2 authentication data recorded from a `grub.cfg`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grub2Auth {
    /// `$superusers` at the end of the config's top level; `None` = unset (no
    /// authentication at all). `Some("")` = set but empty: nobody is a superuser.
    pub superusers: Option<String>,
    /// `password USER PASSWD` / `password_pbkdf2 USER HASH`, in the order run; a later
    /// definition of the same user replaces the earlier one.
    pub users: Vec<(String, Credential)>,
    /// Per menu item (its index path, as [`rsgrub_bootcfg::Menu::get`] takes it): GRUB's
    /// `users` value — `None` for `--unrestricted`, `Some(list)` for `--users list`. Items
    /// not in the map had neither option: `Some("")`, superusers only.
    pub access: BTreeMap<Vec<usize>, Option<String>>,
}

/// Everything the menu enforces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Auth {
    /// GRUB legacy global `password`.
    pub legacy: Option<LegacyPassword>,
    /// GRUB legacy entries with `lock` (index paths).
    pub legacy_locked: BTreeSet<Vec<usize>>,
    /// GRUB 2.
    pub grub2: Grub2Auth,
}

/// What a check asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// A superuser (editor, command line).
    Superuser,
    /// Someone allowed to run this item.
    Item,
}

impl Auth {
    /// From a parsed menu.
    pub fn from_menu(menu: &Menu) -> Auth {
        let mut grub2 = Grub2Auth::default();
        if let Some(superusers) = &menu.superusers {
            grub2.superusers = Some(superusers.join(" "));
            grub2.users = menu
                .passwords
                .iter()
                .map(|(user, p)| {
                    let c = match p {
                        PasswordKind::Plain(s) => Credential::Plain(s.clone()),
                        PasswordKind::Pbkdf2(s) => Credential::Pbkdf2(s.clone()),
                    };
                    (user.clone(), c)
                })
                .collect();
            let mut path = Vec::new();
            collect_access(&menu.items, &mut path, &mut grub2.access);
        }
        let mut legacy_locked = BTreeSet::new();
        collect_locked(&menu.items, &mut Vec::new(), &mut legacy_locked);
        Auth {
            legacy: menu.password.as_deref().and_then(LegacyPassword::parse),
            legacy_locked,
            grub2,
        }
    }

    /// GRUB's `users` for an item: `None` = unrestricted.
    fn item_users(&self, path: &[usize]) -> Option<&str> {
        match self.grub2.access.get(path) {
            Some(u) => u.as_deref(),
            None => Some(""),
        }
    }

    /// GRUB 2's `is_authenticated(userlist)`: `need` on `path` is satisfied by the users
    /// authenticated so far.
    pub fn grub2_allows(
        &self,
        need: Need,
        path: &[usize],
        authenticated: &BTreeSet<String>,
    ) -> bool {
        let Some(superusers) = self.grub2.superusers.as_deref() else {
            return true;
        };
        let userlist = match need {
            Need::Superuser => Some(""),
            Need::Item => match self.item_users(path) {
                None => return true,
                Some(u) => Some(u),
            },
        };
        authenticated
            .iter()
            .any(|name| userlist.is_some_and(|l| strword(l, name)) || strword(superusers, name))
    }

    /// Check a login; `true` when `user`'s password is `password`.
    pub fn grub2_login(&self, user: &str, password: &str) -> bool {
        self.grub2
            .users
            .iter()
            .rev()
            .find(|(n, _)| n == user)
            .is_some_and(|(_, c)| c.verify(password))
    }
}

/// Record every item's `users`/`unrestricted` that differs from GRUB's default
/// (superusers only). The tree is bounded by the parser (`MAX_ITEMS`); so is this walk.
fn collect_access(
    items: &[Item],
    path: &mut Vec<usize>,
    out: &mut BTreeMap<Vec<usize>, Option<String>>,
) {
    for (i, it) in items.iter().enumerate() {
        path.push(i);
        let (users, unrestricted) = match it {
            Item::Entry(e) => (&e.users, e.unrestricted),
            Item::Submenu(s) => (&s.users, s.unrestricted),
        };
        match users {
            // `--users` wins over `--unrestricted`, as in `grub_cmd_menuentry`.
            Some(u) => {
                out.insert(path.clone(), Some(u.join(" ")));
            }
            None if unrestricted => {
                out.insert(path.clone(), None);
            }
            None => {}
        }
        if let Item::Submenu(s) = it {
            collect_access(&s.items, path, out);
        }
        path.pop();
    }
}

/// Index paths of the GRUB legacy entries with `lock` (legacy menus are flat; the walk is
/// bounded by the parser's `MAX_ITEMS` all the same).
fn collect_locked(items: &[Item], path: &mut Vec<usize>, out: &mut BTreeSet<Vec<usize>>) {
    for (i, it) in items.iter().enumerate() {
        path.push(i);
        match it {
            Item::Entry(e) if e.locked => {
                out.insert(path.clone());
            }
            Item::Entry(_) => {}
            Item::Submenu(s) => collect_locked(&s.items, path, out),
        }
        path.pop();
    }
}

/// GRUB's `grub_strword`: `word` is one of the words of `list` (separators: blanks, `,`,
/// `;`, `|`, `&`).
pub fn strword(list: &str, word: &str) -> bool {
    !word.is_empty()
        && list
            .split(|c: char| c.is_ascii_whitespace() || matches!(c, ',' | ';' | '|' | '&'))
            .any(|w| w == word)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        let mut a = Auth::default();
        a.grub2.superusers = Some("root, admin".into());
        a.grub2.users = vec![
            ("root".into(), Credential::Plain("old".into())),
            ("root".into(), Credential::Plain("toor".into())),
            ("alice".into(), Credential::Plain("wonder".into())),
        ];
        a.grub2.access.insert(vec![0], None);
        a.grub2.access.insert(vec![1], Some("alice|bob".into()));
        a
    }

    #[test]
    fn grub2_rules() {
        let a = auth();
        let none = BTreeSet::new();
        let alice: BTreeSet<String> = ["alice".to_string()].into();
        let root: BTreeSet<String> = ["root".to_string()].into();
        // --unrestricted: anyone.
        assert!(a.grub2_allows(Need::Item, &[0], &none));
        // --users alice|bob: alice or a superuser.
        assert!(!a.grub2_allows(Need::Item, &[1], &none));
        assert!(a.grub2_allows(Need::Item, &[1], &alice));
        assert!(a.grub2_allows(Need::Item, &[1], &root));
        // Neither option: superusers only.
        assert!(!a.grub2_allows(Need::Item, &[2], &alice));
        assert!(a.grub2_allows(Need::Item, &[2], &root));
        // Editing: superusers only.
        assert!(!a.grub2_allows(Need::Superuser, &[0], &alice));
        assert!(a.grub2_allows(Need::Superuser, &[0], &root));
        // The later definition wins.
        assert!(a.grub2_login("root", "toor"));
        assert!(!a.grub2_login("root", "old"));
        assert!(!a.grub2_login("bob", ""));
        // No superusers: nothing is checked.
        let open = Auth::default();
        assert!(open.grub2_allows(Need::Superuser, &[5], &none));
        // Empty superusers: nobody is a superuser.
        let mut locked = auth();
        locked.grub2.superusers = Some(String::new());
        assert!(!locked.grub2_allows(Need::Superuser, &[0], &root));
        assert!(locked.grub2_allows(Need::Item, &[1], &alice));
    }

    #[test]
    fn words() {
        assert!(strword("a b,c;d|e&f", "d"));
        assert!(strword("a b,c;d|e&f", "f"));
        assert!(!strword("abc", "b"));
        assert!(!strword("a,,b", ""));
    }
}
