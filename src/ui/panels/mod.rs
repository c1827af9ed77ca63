//! One file per panel; each renders from the app state it is given and nothing else.

pub mod dialog;
pub mod digits;
pub mod dynamics;
pub mod events;
pub mod header;
pub mod heatmap;
pub mod help;
pub mod keybar;
pub mod loss;
pub mod optimizer;
pub mod picker;
pub mod system;
pub mod task;
pub mod too_small;
