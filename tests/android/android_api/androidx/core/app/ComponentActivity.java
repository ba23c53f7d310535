package androidx.core.app;

import android.app.Activity;

/** Stand-in for androidx.core.app.ComponentActivity (core 1.13.1): between the two below. */
public class ComponentActivity extends Activity {}
