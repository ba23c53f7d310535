package androidx.activity;

import android.os.Bundle;
import androidx.activity.result.ActivityResultCallback;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.contract.ActivityResultContract;
import androidx.lifecycle.ViewModelStoreOwner;

/** Stand-in for androidx.activity.ComponentActivity (activity 1.9.3, ComponentActivity.kt). */
public class ComponentActivity extends androidx.core.app.ComponentActivity
        implements ViewModelStoreOwner {
    @Override
    protected void onCreate(Bundle savedInstanceState) {}

    @Override
    protected void onSaveInstanceState(Bundle outState) {}

    @Override
    public void setContentView(int layoutResID) {}

    public final <I, O> ActivityResultLauncher<I> registerForActivityResult(
            ActivityResultContract<I, O> contract, ActivityResultCallback<O> callback) {
        throw new UnsupportedOperationException("stand-in");
    }
}
