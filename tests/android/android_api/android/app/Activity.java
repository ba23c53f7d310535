package android.app;

import android.os.Bundle;
import android.view.ContextThemeWrapper;
import android.view.View;
import android.view.Window;

/** Stand-in for android.app.Activity (API 35). */
public class Activity extends ContextThemeWrapper {
    protected void onCreate(Bundle savedInstanceState) {}

    protected void onSaveInstanceState(Bundle outState) {}

    public void setContentView(int layoutResID) {}

    public <T extends View> T findViewById(int id) {
        throw new UnsupportedOperationException("stand-in");
    }

    public Window getWindow() {
        throw new UnsupportedOperationException("stand-in");
    }

    public final void runOnUiThread(Runnable action) {}

    public boolean isDestroyed() {
        throw new UnsupportedOperationException("stand-in");
    }
}
